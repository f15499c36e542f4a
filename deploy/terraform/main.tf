# histo bare-metal layer: servers -> Ansible inventory.
#
# A server module has a small interface: it takes a name prefix, a count, an
# SSH key, tags and cloud-init user_data, and outputs `nodes`, a list of
# { name, public_ip, private_ip }. Everything after it (inventory, Ansible,
# kubeadm) only sees that list, so where the servers come from is one
# variable: server_provider = own (default) | phoenixnap.
#
#   own         servers you already run, listed in var.own_servers (for example
#               the rack provisioned by deploy/tinkerbell); no server module,
#               no provider credentials, Terraform only writes the inventory.
#   phoenixnap  rented from phoenixNAP Bare Metal Cloud (modules/phoenixnap).
#
# Equinix Metal, the seed's provider, shut down on 2026-06-30; its module is
# kept, uncalled, in archive/equinix-metal (see its README.md).

locals {
  # Only the provider modules put a key on the servers (through cloud-init);
  # with `own` the key is already on your machines, so no key file is needed.
  ssh_public_key = var.server_provider == "own" ? "" : trimspace(file(pathexpand(var.ssh_public_key_path)))

  # First-boot configuration shared by every rented server, whatever the provider.
  user_data = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    ssh_user       = var.ssh_user
    ssh_public_key = local.ssh_public_key
    cluster_name   = var.cluster_name
  })

  # Exactly one of these is non-empty (modules are enabled with count).
  nodes = concat(
    flatten(module.phoenixnap[*].nodes),
    var.server_provider == "own" ? var.own_servers : [],
  )
}

# Rented alternative: phoenixNAP Bare Metal Cloud.
module "phoenixnap" {
  source = "./modules/phoenixnap"
  count  = var.server_provider == "phoenixnap" ? 1 : 0

  name_prefix    = var.cluster_name
  node_count     = var.node_count
  location       = var.phoenixnap_location
  server_type    = var.phoenixnap_server_type
  os             = var.phoenixnap_os
  ssh_public_key = local.ssh_public_key
  tags           = var.tags
  user_data      = local.user_data
}

# The hand-off to Ansible: first node is the kubeadm control plane, the others
# join as workers.
resource "local_file" "ansible_inventory" {
  filename        = "${path.module}/${var.ansible_inventory_path}"
  file_permission = "0600"
  content = templatefile("${path.module}/templates/inventory.ini.tftpl", {
    nodes        = local.nodes
    ssh_user     = var.ssh_user
    cluster_name = var.cluster_name
  })

  lifecycle {
    # The default (own) with an empty own_servers would write an inventory
    # without hosts; stop at plan time instead.
    precondition {
      condition     = length(local.nodes) > 0
      error_message = "No servers: with server_provider = \"own\" list your machines in own_servers (terraform.tfvars), or choose server_provider = \"phoenixnap\"."
    }
  }
}
