# ARCHIVED: Equinix Metal servers for histo (the seed's provider). Equinix
# Metal shut down on 2026-06-30; the root module no longer calls this module.
# See README.md beside this file for why it is kept and how to re-enable it.

resource "equinix_metal_project_ssh_key" "operator" {
  name       = "${var.name_prefix}-operator"
  project_id = var.project_id
  public_key = var.ssh_public_key
}

resource "equinix_metal_device" "histo_node" {
  count = var.node_count

  hostname            = format("%s-%d", var.name_prefix, count.index + 1)
  project_id          = var.project_id
  metro               = var.metro
  plan                = var.plan
  operating_system    = var.operating_system
  billing_cycle       = var.billing_cycle
  project_ssh_key_ids = [equinix_metal_project_ssh_key.operator.id]
  user_data           = var.user_data
  tags                = concat(var.tags, ["${var.name_prefix}-node-${count.index + 1}"])
}
