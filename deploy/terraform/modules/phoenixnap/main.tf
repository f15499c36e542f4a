# phoenixNAP Bare Metal Cloud servers for histo: a live bare-metal provider
# with the server-module interface described in ../../README.md.

resource "pnap_server" "histo_node" {
  count = var.node_count

  hostname                 = format("%s-%d", var.name_prefix, count.index + 1)
  description              = "histo node ${count.index + 1} (${join(",", var.tags)})"
  location                 = var.location
  type                     = var.server_type
  os                       = var.os
  pricing_model            = "HOURLY"
  network_type             = "PUBLIC_AND_PRIVATE"
  ssh_keys                 = [var.ssh_public_key]
  install_default_ssh_keys = false

  cloud_init {
    user_data = base64encode(var.user_data)
  }
}
