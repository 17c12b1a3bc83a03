# Local state: no backend block, so `terraform init` keeps terraform.tfstate in this directory
# (the .gitignore here keeps it, and the .terraform directory, out of the repository).
terraform {
  # lifecycle preconditions need 1.2; 1.3 is the oldest release still widely in use
  required_version = ">= 1.3.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.23 brought aws_lambda_function's logging_config (the function's own log group)
      version = ">= 5.23, < 7.0"
    }
  }
}

# The region and credentials come from the environment (AWS_REGION, AWS_PROFILE, an instance
# role): nothing here names an account or holds a key.
provider "aws" {
  default_tags {
    tags = var.tags
  }
}
