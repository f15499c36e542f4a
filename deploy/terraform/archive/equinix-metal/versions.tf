terraform {
  required_version = ">= 1.5.0"

  required_providers {
    equinix = {
      source  = "equinix/equinix"
      version = "~> 2.0"
    }
  }
}
