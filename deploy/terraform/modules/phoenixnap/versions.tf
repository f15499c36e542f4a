terraform {
  required_version = ">= 1.5.0"

  required_providers {
    pnap = {
      source  = "phoenixnap/pnap"
      version = "~> 0.24"
    }
  }
}
