# Inputs for the histo bare-metal layer. Defaults reproduce the seed topology:
# 3 x Equinix Metal c3.small.x86 in metro ny (NY5), Ubuntu 22.04.

variable "server_provider" {
  description = "Where the servers come from: equinix-metal (seed; sunset 2026-06-30), phoenixnap (live bare-metal cloud) or own (servers you already have, see own_servers)."
  type        = string
  default     = "equinix-metal"

  validation {
    condition     = contains(["equinix-metal", "phoenixnap", "own"], var.server_provider)
    error_message = "server_provider must be one of: equinix-metal, phoenixnap, own."
  }
}

variable "cluster_name" {
  description = "Prefix of every server's hostname and tag (histo-1, histo-2, ...)."
  type        = string
  default     = "histo"
}

variable "node_count" {
  description = "Number of servers. 3 gives a 3-member ZooKeeper ensemble, one per node."
  type        = number
  default     = 3

  validation {
    condition     = var.node_count >= 1 && var.node_count <= 16
    error_message = "node_count must be between 1 and 16."
  }
}

variable "ssh_public_key_path" {
  description = "Public key installed on every server for the Ansible user."
  type        = string
  default     = "~/.ssh/id_ed25519.pub"
}

variable "ssh_user" {
  description = "User Ansible connects as (root on Equinix Metal and phoenixNAP images is replaced by this user through cloud-init)."
  type        = string
  default     = "ubuntu"
}

variable "tags" {
  description = "Tags put on every server."
  type        = list(string)
  default     = ["histo", "kubernetes", "managed-by:terraform"]
}

# --- Equinix Metal (module equinix-metal) -----------------------------------

variable "equinix_project_id" {
  description = "Equinix Metal project UUID."
  type        = string
  default     = ""
}

variable "equinix_metro" {
  description = "Equinix Metal metro (ny = New York, the NY5 facility)."
  type        = string
  default     = "ny"
}

variable "equinix_plan" {
  description = "Equinix Metal server plan."
  type        = string
  default     = "c3.small.x86"
}

variable "equinix_operating_system" {
  description = "Equinix Metal operating system slug."
  type        = string
  default     = "ubuntu_22_04"
}

variable "equinix_billing_cycle" {
  description = "Equinix Metal billing cycle."
  type        = string
  default     = "hourly"
}

# --- phoenixNAP Bare Metal Cloud (module phoenixnap) -------------------------

variable "phoenixnap_location" {
  description = "phoenixNAP location code (ASH = Ashburn, closest to NY)."
  type        = string
  default     = "ASH"
}

variable "phoenixnap_server_type" {
  description = "phoenixNAP server type (s1.c1.small: 4 cores, 32 GB, similar to c3.small.x86)."
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
  description = "With server_provider = own: the servers you already run (any rack, any provider). Terraform then only writes the Ansible inventory."
  type = list(object({
    name       = string
    public_ip  = string
    private_ip = string
  }))
  default = []
}

variable "ansible_inventory_path" {
  description = "Where the generated Ansible inventory is written (gitignored)."
  type        = string
  default     = "../ansible/inventory/hosts.ini"
}
