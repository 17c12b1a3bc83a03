# The template's outputs, each under the snake_case of its name.

output "bucket_name" {
  description = "The bucket kept in sync."
  value       = coalesce(one(aws_s3_bucket.this[*].id), var.bucket_name)
}

output "queue_url" {
  description = "The queue S3 notifies."
  value       = aws_sqs_queue.queue.url
}

output "queue_arn" {
  description = "The queue's ARN (what the bucket's notification names)."
  value       = aws_sqs_queue.queue.arn
}

output "dead_letter_queue_url" {
  description = "The dead-letter queue (`bucketsync dlq`)."
  value       = aws_sqs_queue.dead_letters.url
}

output "dead_letter_queue_arn" {
  description = "The dead-letter queue's ARN."
  value       = aws_sqs_queue.dead_letters.arn
}

output "function_name" {
  description = "The sync function."
  value       = aws_lambda_function.sync.function_name
}

output "log_group_name" {
  description = "The function's log group (`bucketsync logs`)."
  value       = aws_cloudwatch_log_group.function.name
}

output "table_name" {
  description = "The catalog table."
  value       = aws_dynamodb_table.catalog.name
}
