# The sync function: its log group, its role (least privilege, as permissions.py computes it
# for the catalog shape), the function itself and the queue's mapping to it.

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:log data is encrypted by CloudWatch by default
  #checkov:skip=CKV_AWS_338:retention is the log_retention_days variable (30 days by default, as the stack's)
  name              = "/aws/lambda/${var.name}-sync"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${var.name}-sync"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

# What the function's own code calls, on this module's resources only. A statement that only
# some routing rules need is a dynamic block whose for_each names one local of main.tf.
data "aws_iam_policy_document" "function" {
  # The provider's log group ARN has no ":*" (CloudFormation's has): the streams need it.
  statement {
    sid       = "Logs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  statement {
    sid    = "Queue"
    effect = "Allow"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [aws_sqs_queue.queue.arn]
  }

  # GetObject authorises HeadObject; ListBucket turns a deleted key's 403 into the 404 the
  # engine takes for "absent".
  statement {
    sid       = "Objects"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/*"]
  }

  statement {
    sid       = "Listing"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
  }

  # Both write modes need PutItem alone: a transaction is authorised item by item, by each
  # item's own action (IAM has no dynamodb:TransactWriteItems).
  statement {
    sid       = "Catalog"
    effect    = "Allow"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.catalog.arn]
  }

  # The rows' tables, made here or (rules with a key) the owner's. Two blocks of one Sid, one
  # of them at most: Scan only when a rule has a key (a keyed table without the file index is
  # scanned).
  dynamic "statement" {
    for_each = local.has_routes && !local.has_keyed ? [1] : []
    content {
      sid    = "Rows"
      effect = "Allow"
      actions = [
        "dynamodb:BatchWriteItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:DescribeTable",
      ]
      resources = concat(
        [for t in local.route_tables : "${local.table_arn_prefix}/${t}"],
        [for t in local.route_tables : "${local.table_arn_prefix}/${t}/index/*"],
      )
    }
  }

  dynamic "statement" {
    for_each = local.has_routes && local.has_keyed ? [1] : []
    content {
      sid    = "Rows"
      effect = "Allow"
      actions = [
        "dynamodb:BatchWriteItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:DescribeTable",
        "dynamodb:Scan",
      ]
      resources = concat(
        [for t in local.route_tables : "${local.table_arn_prefix}/${t}"],
        [for t in local.route_tables : "${local.table_arn_prefix}/${t}/index/*"],
      )
    }
  }

  # Rows keyed by their own fields keep their manifests in the catalog.
  dynamic "statement" {
    for_each = local.has_keyed ? [1] : []
    content {
      sid       = "Manifests"
      effect    = "Allow"
      actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query"]
      resources = [aws_dynamodb_table.catalog.arn, "${aws_dynamodb_table.catalog.arn}/index/*"]
    }
  }

  dynamic "statement" {
    for_each = local.has_error_prefixes ? [1] : []
    content {
      sid       = "ErrorReports"
      effect    = "Allow"
      actions   = ["s3:PutObject"]
      resources = [for p in local.error_prefixes : "${local.bucket_arn}/${p}*"]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "bucketsync"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_lambda_function" "sync" {
  #checkov:skip=CKV_AWS_116:an SQS event source: the queue's redrive policy is the DLQ
  #checkov:skip=CKV_AWS_117:it needs S3, SQS and DynamoDB only: no VPC to place it in
  #checkov:skip=CKV_AWS_173:no secret in its environment (the forwarder's is read from SSM)
  #checkov:skip=CKV_AWS_272:code signing needs a signing profile the owner sets up
  #checkov:skip=CKV_AWS_50:X-Ray tracing is off, as in the CloudFormation stack: bucketsync reports through its JSON logs and the alarms
  function_name = "${var.name}-sync"
  role          = aws_iam_role.function.arn
  runtime       = "python3.13"
  architectures = ["arm64"]
  handler       = "bucketsync.runtimes.lambda_handler.handler"
  s3_bucket     = var.code_bucket
  s3_key        = var.code_key
  memory_size   = var.function_memory
  timeout       = var.function_timeout

  # -1 is the provider's "none reserved", as it is the template's ReservedConcurrency.
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      BUCKETSYNC_LOG_FORMAT         = "json"
      BUCKETSYNC_TABLE              = aws_dynamodb_table.catalog.name
      BUCKETSYNC_WRITE_MODE         = var.write_mode
      BUCKETSYNC_ORDERING           = var.ordering
      BUCKETSYNC_LEAN               = tostring(var.lean)
      BUCKETSYNC_TOMBSTONE_TTL_DAYS = tostring(var.tombstone_ttl_days)
      BUCKETSYNC_ROUTES             = var.routes
    }
  }

  logging_config {
    log_format = "Text" # the lines are bucketsync's own JSON (BUCKETSYNC_LOG_FORMAT)
    log_group  = aws_cloudwatch_log_group.function.name
  }

  # The role's statements exist before the function runs (and outlive it on destroy).
  depends_on = [aws_iam_role_policy.function]

  lifecycle {
    # The stack makes the tables of the rules without a key; a table missing from
    # records_tables would leave rows with nowhere to go, one extra would never be written.
    precondition {
      condition     = length(setsubtract(local.owned_tables, var.records_tables)) == 0 && length(setsubtract(var.records_tables, local.owned_tables)) == 0
      error_message = "records_tables must name exactly the tables of the routes' rules without a key: ${jsonencode(local.owned_tables)}."
    }
  }
}

resource "aws_lambda_event_source_mapping" "queue" {
  event_source_arn                   = aws_sqs_queue.queue.arn
  function_name                      = aws_lambda_function.sync.arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }

  # Creating the mapping checks that the role may receive from the queue.
  depends_on = [aws_iam_role_policy.function]

  lifecycle {
    precondition {
      condition     = var.batch_size <= 10 || var.batching_window_seconds >= 1
      error_message = "batch_size is over 10, which SQS allows only with a batching window of at least 1 second (batching_window_seconds)."
    }

    precondition {
      condition     = var.reserved_concurrency == -1 || var.reserved_concurrency >= var.maximum_concurrency
      error_message = "reserved_concurrency is under maximum_concurrency: the mapping would be throttled."
    }
  }
}
