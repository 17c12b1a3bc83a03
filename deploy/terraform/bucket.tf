# The bucket, when the module makes it (create_bucket): private, encrypted, TLS only. Without
# it the module works on an existing bucket of bucket_name, which it never changes.

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:access logging is the owner's choice of log bucket
  #checkov:skip=CKV_AWS_21:versioning is the bucket_versioning variable
  #checkov:skip=CKV_AWS_144:cross-region replication is out of scope
  #checkov:skip=CKV_AWS_145:SSE-S3 by default; a KMS key is the owner's choice
  #checkov:skip=CKV2_AWS_61:lifecycle rules are the owner's choice: bucketsync syncs what the bucket keeps
  count = var.create_bucket ? 1 : 0

  bucket = var.bucket_name
  # Off by default: a destroy that would delete the bucket's objects is asked for by name.
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  count = var.create_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.this[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  versioning_configuration {
    status = var.bucket_versioning
  }
}

data "aws_iam_policy_document" "bucket" {
  count = var.create_bucket ? 1 : 0

  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this[0].arn, "${aws_s3_bucket.this[0].arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id
  policy = data.aws_iam_policy_document.bucket[0].json

  # S3 refuses concurrent changes to one bucket's settings: one after the other.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# OPT-IN, AND DESTRUCTIVE: S3 keeps ONE notification configuration per bucket, and this
# resource owns all of it. Applying it deletes every other notification on the bucket;
# destroying it deletes bucketsync's and any added since. `bucketsync deploy` merges bucketsync's
# entry into what the bucket has instead: use that on a bucket anything else listens to.
resource "aws_s3_bucket_notification" "this" {
  count = var.manage_notification ? 1 : 0

  bucket = coalesce(one(aws_s3_bucket.this[*].id), var.bucket_name)

  queue {
    id            = "bucketsync"
    queue_arn     = aws_sqs_queue.queue.arn
    events        = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    filter_prefix = var.notification_prefix == "" ? null : var.notification_prefix
    filter_suffix = var.notification_suffix == "" ? null : var.notification_suffix
  }

  # S3 sends a test event when the configuration is written: the queue must accept it.
  depends_on = [aws_sqs_queue_policy.queue]
}
