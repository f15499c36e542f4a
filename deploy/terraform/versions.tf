# Terraform and provider versions for the histo bare-metal layer.
# Providers are only downloaded for what you use, but all are declared so any
# `server_provider` can be selected without editing code.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    equinix = {
      source  = "equinix/equinix"
      version = "~> 2.0"
    }
    pnap = {
      source  = "phoenixnap/pnap"
      version = "~> 0.24"
    }
    local = {
      source  = "hashicorp/local"
      version = "~> 2.5"
    }
  }
}

# Credentials come from the environment, never from tfvars in git:
#   Equinix Metal: METAL_AUTH_TOKEN
#   phoenixNAP:    PNAP_CLIENT_ID / PNAP_CLIENT_SECRET (or ~/.pnap/config.yaml)
provider "equinix" {}

provider "pnap" {}
