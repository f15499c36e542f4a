# histo bare-metal layer: servers -> Ansible inventory.
#
# A server module has a small interface: it takes a name prefix, a count, an
# SSH key, tags and cloud-init user_data, and outputs `nodes`, a list of
# { name, public_ip, private_ip }. Everything after it (inventory, Ansible,
# kubeadm) only sees that list, so the provider can be swapped with one
# variable: server_provider = equinix-metal | phoenixnap | own.

locals {
  ssh_public_key = trimspace(file(pathexpand(var.ssh_public_key_path)))

  # First-boot configuration shared by every server, whatever the provider.
  user_data = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    ssh_user       = var.ssh_user
    ssh_public_key = local.ssh_public_key
    cluster_name   = var.cluster_name
  })

  # Exactly one of these is non-empty (modules are enabled with count).
  nodes = concat(
    flatten(module.equinix_metal[*].nodes),
    flatten(module.phoenixnap[*].nodes),
    var.server_provider == "own" ? var.own_servers : [],
  )
}

# Seed provider: Equinix Metal, 3 x c3.small.x86 in metro ny, Ubuntu 22.04.
module "equinix_metal" {
  source = "./modules/equinix-metal"
  count  = var.server_provider == "equinix-metal" ? 1 : 0

  name_prefix      = var.cluster_name
  node_count       = var.node_count
  project_id       = var.equinix_project_id
  metro            = var.equinix_metro
  plan             = var.equinix_plan
  operating_system = var.equinix_operating_system
  billing_cycle    = var.equinix_billing_cycle
  ssh_public_key   = local.ssh_public_key
  tags             = var.tags
  user_data        = local.user_data
}

# Live alternative: phoenixNAP Bare Metal Cloud.
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
}
