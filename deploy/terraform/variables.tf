# Inputs for the histo bare-metal layer. The default is your own 3 servers
# (own_servers, e.g. provisioned by deploy/tinkerbell); phoenixnap rents 3
# instead. Equinix Metal, the seed's provider, shut down on 2026-06-30: its
# module and variables are in archive/equinix-metal.

variable "server_provider" {
  description = "Where the servers come from: own (default: the machines listed in own_servers, e.g. a rack provisioned by deploy/tinkerbell) or phoenixnap (rented from phoenixNAP Bare Metal Cloud)."
  type        = string
  default     = "own"

  validation {
    condition     = contains(["own", "phoenixnap"], var.server_provider)
    error_message = "server_provider must be one of: own, phoenixnap. (equinix-metal was removed: Equinix Metal shut down on 2026-06-30, see archive/equinix-metal/README.md.)"
  }
}

variable "cluster_name" {
  description = "Prefix of every server's hostname and tag (histo-1, histo-2, ...)."
  type        = string
  default     = "histo"
}

variable "node_count" {
  description = "Number of servers to rent (phoenixnap). 3 gives a 3-member ZooKeeper ensemble, one per node. With own, the length of own_servers counts instead."
  type        = number
  default     = 3

  validation {
    condition     = var.node_count >= 1 && var.node_count <= 16
    error_message = "node_count must be between 1 and 16."
  }
}

variable "ssh_public_key_path" {
  description = "Public key installed through cloud-init on every rented server (phoenixnap) for the Ansible user. Not read with own: your machines already have it."
  type        = string
  default     = "~/.ssh/id_ed25519.pub"
}

variable "ssh_user" {
  description = "User Ansible connects as (on phoenixNAP, cloud-init creates it and disables root logins; on own servers it must already exist with sudo)."
  type        = string
  default     = "ubuntu"
}

variable "tags" {
  description = "Tags put on every server."
  type        = list(string)
  default     = ["histo", "kubernetes", "managed-by:terraform"]
}

# --- phoenixNAP Bare Metal Cloud (module phoenixnap) -------------------------

variable "phoenixnap_location" {
  description = "phoenixNAP location code (ASH = Ashburn, closest to NY)."
  type        = string
  default     = "ASH"
}

variable "phoenixnap_server_type" {
  description = "phoenixNAP server type (s1.c1.small: 4 cores, 32 GB)."
  type        = string
  default     = "s1.c1.small"
}

variable "phoenixnap_os" {
  description = "phoenixNAP operating system (Ubuntu 22.04)."
  type        = string
  default     = "ubuntu/jammy"
}

# --- Own servers -------------------------------------------------------------

variable "own_servers" {
  description = "With server_provider = own (the default): the servers you already run, in order; the first is the kubeadm control plane. name = hostname, public_ip = the IPv4 Ansible connects to over SSH, private_ip = the IPv4 of the cluster network (kubelet, Calico, etcd). For a Tinkerbell rack, the names and addresses of deploy/tinkerbell/hardware.yaml. Terraform then only writes the Ansible inventory."
  type = list(object({
    name       = string
    public_ip  = string
    private_ip = string
  }))
  default = []

  validation {
    condition     = length(var.own_servers) <= 16
    error_message = "own_servers: at most 16 servers."
  }

  validation {
    condition     = alltrue([for s in var.own_servers : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", s.name))])
    error_message = "own_servers: every name must be a lowercase hostname (letters, digits, '-'), e.g. histo-1."
  }

  validation {
    condition     = length(distinct([for s in var.own_servers : s.name])) == length(var.own_servers)
    error_message = "own_servers: names must be unique."
  }

  validation {
    condition = alltrue(flatten([
      for s in var.own_servers : [
        for ip in [s.public_ip, s.private_ip] :
        can(regex("^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", ip)) && can(cidrhost("${ip}/32", 0))
      ]
    ]))
    error_message = "own_servers: public_ip and private_ip must be IPv4 addresses (a.b.c.d)."
  }
}

variable "ansible_inventory_path" {
  description = "Where the generated Ansible inventory is written (gitignored)."
  type        = string
  default     = "../ansible/inventory/hosts.ini"
}
