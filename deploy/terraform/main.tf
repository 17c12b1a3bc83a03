# bucketsync, catalog shape, as Terraform: the resources of deploy/cloudformation/bucketsync.json
# (rendered by src/bucketsync/deploy/template.py), with the same least-privilege role.
#
#   S3 --notification--> SQS queue (+ DLQ) --mapping--> the sync function --> the catalog table
#                                                                         \-> records tables
#
# The bucket's notification is not made here unless manage_notification is true (see
# variables.tf and README.md): S3 keeps one notification configuration per bucket, and writing
# it replaces every other entry. The queue policy names the bucket by its name and the account,
# so queue, bucket and notification do not depend on each other.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}"

  # "arn:<partition>:dynamodb:<region>:<account>:table", from the catalog table's own ARN (a
  # table name holds no "/"): the ARNs of the routes' tables, made here or the owner's.
  table_arn_prefix = split("/", aws_dynamodb_table.catalog.arn)[0]

  # The routing rules, as src/bucketsync/deploy/permissions.py reads them for the role. (The
  # choice is between strings: rules of different attributes make a tuple no [] unifies with.)
  routes         = jsondecode(var.routes == "" ? "[]" : var.routes)
  route_tables   = distinct([for r in local.routes : r.table])
  owned_tables   = distinct([for r in local.routes : r.table if try(length(r.key), 0) == 0])
  error_prefixes = sort(distinct([for p in [for r in local.routes : try(r.errors_prefix, null)] : p if p != null && p != ""]))

  # What decides which statements the role holds (the test evaluates these by name).
  has_routes         = length(local.routes) > 0
  has_keyed          = anytrue([for r in local.routes : try(length(r.key), 0) > 0])
  has_error_prefixes = length(local.error_prefixes) > 0

  alarm_actions = var.alarm_topic_arn == "" ? [] : [var.alarm_topic_arn]
}

# --- Queues ---------------------------------------------------------------------------------

resource "aws_sqs_queue" "dead_letters" {
  name                      = "${var.name}-dead-letters"
  message_retention_seconds = 1209600 # 14 days, SQS's longest: time to find and fix a cause
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "queue" {
  name                       = "${var.name}-events"
  visibility_timeout_seconds = var.queue_visibility_timeout
  max_message_size           = 262144  # S3's events can reach 64 KB; the queue takes what SQS allows
  message_retention_seconds  = 1209600 # under the tombstones' 30 days (docs/ordering.md)
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letters.arn
    maxReceiveCount     = var.max_receive_count
  })

  lifecycle {
    precondition {
      condition     = var.queue_visibility_timeout >= 6 * var.function_timeout
      error_message = "queue_visibility_timeout is under six times function_timeout: a batch still running would be delivered again."
    }
  }
}

data "aws_iam_policy_document" "queue" {
  statement {
    sid       = "OnlyThisBucketsNotifications"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.queue.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    # By the bucket's name and the account: no reference to a bucket resource, no cycle.
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.bucket_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "queue" {
  queue_url = aws_sqs_queue.queue.id
  policy    = data.aws_iam_policy_document.queue.json
}

# --- Tables ---------------------------------------------------------------------------------
# One layout for the catalog and the records tables (src/bucketsync/sinks/tables.py): string
# pk/sk, on demand, the sparse bucketsync-manifests index; TTL on expires_at, point-in-time
# recovery, encryption at rest. No deletion protection: `terraform destroy` leaves nothing.

resource "aws_dynamodb_table" "catalog" {
  #checkov:skip=CKV_AWS_119:SSE with the AWS-owned key; a CMK is the owner's choice
  name         = var.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "_mb"
    type = "S"
  }

  attribute {
    name = "_mk"
    type = "S"
  }

  global_secondary_index {
    name               = "bucketsync-manifests"
    hash_key           = "_mb"
    range_key          = "_mk"
    projection_type    = "INCLUDE"
    non_key_attributes = ["rev", "wrote", "status", "etag", "size", "load_identity"]
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "records" {
  #checkov:skip=CKV_AWS_119:SSE with the AWS-owned key; a CMK is the owner's choice
  for_each = toset(var.records_tables)

  name         = each.value
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "_mb"
    type = "S"
  }

  attribute {
    name = "_mk"
    type = "S"
  }

  global_secondary_index {
    name               = "bucketsync-manifests"
    hash_key           = "_mb"
    range_key          = "_mk"
    projection_type    = "INCLUDE"
    non_key_attributes = ["rev", "wrote", "status", "etag", "size", "load_identity"]
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
