# Terraform and provider versions for the histo bare-metal layer.
# Exactly the providers the root module uses: pnap for modules/phoenixnap and
# local for the inventory file. `terraform init` downloads both whatever
# server_provider is, so any value can be selected without editing code; with
# the default (own) neither needs credentials. The archived Equinix Metal
# module (archive/equinix-metal) is not called, so its provider is not needed.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
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
#   phoenixNAP: PNAP_CLIENT_ID / PNAP_CLIENT_SECRET (or ~/.pnap/config.yaml)
provider "pnap" {}
