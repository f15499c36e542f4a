output "nodes" {
  description = "Every server: name, public and private IPv4 address."
  value       = local.nodes
}

output "public_ips" {
  description = "Public IPv4 addresses, in node order."
  value       = [for n in local.nodes : n.public_ip]
}

output "private_ips" {
  description = "Private IPv4 addresses (cluster traffic), in node order."
  value       = [for n in local.nodes : n.private_ip]
}

output "control_plane_ip" {
  description = "Public IPv4 of the kubeadm control-plane node (the first node)."
  value       = length(local.nodes) > 0 ? local.nodes[0].public_ip : null
}

output "ansible_inventory_path" {
  description = "The Ansible inventory written from the nodes."
  value       = local_file.ansible_inventory.filename
}

output "next_step" {
  description = "What to run next."
  value       = "cd ../ansible && ansible-playbook -i inventory/hosts.ini playbook.yml"
}
