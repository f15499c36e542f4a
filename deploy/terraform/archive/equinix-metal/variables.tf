variable "name_prefix" {
  description = "Hostname prefix: <prefix>-1 .. <prefix>-N."
  type        = string
}

variable "node_count" {
  description = "Number of servers."
  type        = number
}

variable "project_id" {
  description = "Equinix Metal project UUID."
  type        = string
}

variable "metro" {
  description = "Equinix Metal metro code."
  type        = string
}

variable "plan" {
  description = "Equinix Metal plan slug."
  type        = string
}

variable "operating_system" {
  description = "Equinix Metal operating system slug."
  type        = string
}

variable "billing_cycle" {
  description = "hourly or monthly."
  type        = string
  default     = "hourly"
}

variable "ssh_public_key" {
  description = "OpenSSH public key registered in the project and put on every server."
  type        = string
}

variable "tags" {
  description = "Tags on every server."
  type        = list(string)
  default     = []
}

variable "user_data" {
  description = "cloud-init user data."
  type        = string
  default     = ""
}
