output "nodes" {
  description = "The server-module interface: one { name, public_ip, private_ip } per server."
  value = [
    for s in pnap_server.histo_node : {
      name       = s.hostname
      public_ip  = tolist(s.public_ip_addresses)[0]
      private_ip = tolist(s.private_ip_addresses)[0]
    }
  ]
}
