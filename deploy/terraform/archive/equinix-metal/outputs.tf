output "nodes" {
  description = "The server-module interface: one { name, public_ip, private_ip } per server."
  value = [
    for d in equinix_metal_device.histo_node : {
      name       = d.hostname
      public_ip  = d.access_public_ipv4
      private_ip = d.access_private_ipv4
    }
  ]
}
