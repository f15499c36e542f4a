variable "name_prefix" {
  description = "Hostname prefix: <prefix>-1 .. <prefix>-N."
  type        = string
}

variable "node_count" {
  description = "Number of servers."
  type        = number
}

variable "location" {
  description = "phoenixNAP location code (PHX, ASH, CHI, SEA, NLD, SGP, AUS)."
  type        = string
}

variable "server_type" {
  description = "phoenixNAP server type, e.g. s1.c1.small."
  type        = string
}

variable "os" {
  description = "phoenixNAP OS, e.g. ubuntu/jammy."
  type        = string
}

variable "ssh_public_key" {
  description = "OpenSSH public key put on every server."
  type        = string
}

variable "tags" {
  description = "Tags, recorded in the server description (phoenixNAP tags must exist beforehand)."
  type        = list(string)
  default     = []
}

variable "user_data" {
  description = "cloud-init user data."
  type        = string
  default     = ""
}
