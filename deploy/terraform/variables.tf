# The CloudFormation template's parameters (src/bucketsync/deploy/parameters.py, catalog shape),
# each under the snake_case of its name, with the same default and the same constraints;
# tests/unit/test_deploy_terraform.py holds the two equal. The variables after them are the
# module's own (what the stack gets from its name, or what Terraform manages differently).

variable "bucket_name" {
  type        = string
  description = "The bucket to keep in sync (an existing one, or the one made)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be an S3 bucket name: 3-63 of a-z, 0-9, '.' and '-'."
  }
}

variable "create_bucket" {
  type        = bool
  default     = false
  description = "true: the module makes the bucket (SSE, public access blocked, TLS only)."
}

variable "bucket_versioning" {
  type        = string
  default     = "Suspended"
  description = "Versioning of a bucket the module makes."

  validation {
    condition     = contains(["Enabled", "Suspended"], var.bucket_versioning)
    error_message = "bucket_versioning must be one of: \"Enabled\", \"Suspended\"."
  }
}

variable "code_bucket" {
  type        = string
  description = "The S3 bucket holding the function's zip (what `bucketsync deploy` uploads)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.code_bucket))
    error_message = "code_bucket must be an S3 bucket name: 3-63 of a-z, 0-9, '.' and '-'."
  }
}

variable "code_key" {
  type        = string
  description = "The zip's key in code_bucket (a new key for new code: the key is what changes)."

  validation {
    condition     = can(regex("^.+$", var.code_key))
    error_message = "code_key must not be empty."
  }
}

variable "function_memory" {
  type        = number
  default     = 256
  description = "MB of memory."

  validation {
    condition     = var.function_memory >= 128 && var.function_memory <= 10240
    error_message = "function_memory must be 128-10240 (MB)."
  }
}

variable "function_timeout" {
  type        = number
  default     = 60
  description = "Seconds a batch may take."

  validation {
    condition     = var.function_timeout >= 3 && var.function_timeout <= 900
    error_message = "function_timeout must be 3-900 (seconds)."
  }
}

variable "reserved_concurrency" {
  type        = number
  default     = -1
  description = "Reserved concurrent executions (-1: none reserved)."

  validation {
    condition     = var.reserved_concurrency >= -1
    error_message = "reserved_concurrency must be -1 (none reserved) or more."
  }
}

variable "batch_size" {
  type        = number
  default     = 10
  description = "Messages a batch."

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be 1-10000."
  }
}

variable "batching_window_seconds" {
  type        = number
  default     = 0
  description = "Seconds the mapping waits to fill a batch (needed above 10 messages)."

  validation {
    condition     = var.batching_window_seconds >= 0 && var.batching_window_seconds <= 300
    error_message = "batching_window_seconds must be 0-300."
  }
}

variable "maximum_concurrency" {
  type        = number
  default     = 10
  description = "Concurrent invocations the queue may drive (2-1000)."

  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000
    error_message = "maximum_concurrency must be 2-1000."
  }
}

variable "queue_visibility_timeout" {
  type        = number
  default     = 360
  description = "Seconds; at least six times function_timeout (what AWS advises for SQS sources)."

  validation {
    condition     = var.queue_visibility_timeout >= 0 && var.queue_visibility_timeout <= 43200
    error_message = "queue_visibility_timeout must be 0-43200 (seconds)."
  }
}

variable "max_receive_count" {
  type        = number
  default     = 5
  description = "Receives before a message goes to the DLQ (5 or more)."

  validation {
    condition     = var.max_receive_count >= 5 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be 5-1000: a transient fault would dead-letter messages."
  }
}

variable "log_retention_days" {
  type        = number
  default     = 30
  description = "Days the function's logs are kept."
}

variable "oldest_message_alarm_seconds" {
  type        = number
  default     = 900
  description = "Alarm when the oldest message waits longer than this."

  validation {
    condition     = var.oldest_message_alarm_seconds >= 60
    error_message = "oldest_message_alarm_seconds must be 60 or more."
  }
}

variable "alarm_topic_arn" {
  type        = string
  default     = ""
  description = "SNS topic the alarms notify (empty: none)."
}

variable "table_name" {
  type        = string
  default     = "bucketsync-catalog"
  description = "The catalog table the module makes."
}

variable "write_mode" {
  type        = string
  default     = "single"
  description = "single: 1 write unit per item (cheapest); transact: 2, fewer requests."

  validation {
    condition     = contains(["single", "transact"], var.write_mode)
    error_message = "write_mode must be one of: \"single\", \"transact\"."
  }
}

variable "ordering" {
  type        = string
  default     = "auto"
  description = "auto, sequencer or observed."

  validation {
    condition     = contains(["auto", "sequencer", "observed"], var.ordering)
    error_message = "ordering must be one of: \"auto\", \"sequencer\", \"observed\"."
  }
}

variable "lean" {
  type        = bool
  default     = false
  description = "Trust events, skip HeadObject."
}

variable "tombstone_ttl_days" {
  type        = number
  default     = 30
  description = "Days a delete's tombstone lives."

  validation {
    condition     = var.tombstone_ttl_days >= 1
    error_message = "tombstone_ttl_days must be 1 or more."
  }
}

variable "routes" {
  type        = string
  default     = ""
  description = "Routing rules (JSON) for data files' rows, as BUCKETSYNC_ROUTES takes them; the tables of rules without a key of their own are made: name them in records_tables."

  validation {
    condition     = var.routes == "" || can([for r in jsondecode(var.routes) : [r.match, r.table]])
    error_message = "routes must be empty or a JSON list of rules, each with \"match\" and \"table\"."
  }
}

# --- The module's own -----------------------------------------------------------------------

variable "name" {
  type        = string
  default     = "bucketsync"
  description = "Names the function (<name>-sync), its role, log group, queues and alarms: what a stack's name does for the CloudFormation template."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name must be 1-40 of A-Z, a-z, 0-9, '_' and '-'."
  }
}

variable "records_tables" {
  type        = list(string)
  default     = []
  description = "The rows' tables the module makes, one per entry: the tables of the routes' rules without a key (those with a key write into a table of the owner's, granted but not made)."

  validation {
    condition     = alltrue([for t in var.records_tables : can(regex("^[A-Za-z0-9_.-]{3,255}$", t))])
    error_message = "records_tables entries must be DynamoDB table names: 3-255 of A-Z, a-z, 0-9, '_', '.' and '-'."
  }

  validation {
    condition     = length(distinct(var.records_tables)) == length(var.records_tables)
    error_message = "records_tables must not name a table twice."
  }
}

variable "force_destroy" {
  type        = bool
  default     = false
  description = "With create_bucket: `terraform destroy` deletes the bucket even with objects (and every version) in it. Off: empty the bucket first, or the destroy stops at the bucket."
}

variable "manage_notification" {
  type        = bool
  default     = false
  description = "WARNING: true REPLACES THE BUCKET'S WHOLE NOTIFICATION CONFIGURATION with bucketsync's one entry: every other notification on the bucket (another team's Lambda, SNS topic or queue) is deleted, and `terraform destroy` deletes them all. Leave false on a bucket anything else listens to, and let `bucketsync deploy` merge its entry instead."
}

variable "notification_prefix" {
  type        = string
  default     = ""
  description = "With manage_notification: only keys with this prefix are sent (empty: all)."
}

variable "notification_suffix" {
  type        = string
  default     = ""
  description = "With manage_notification: only keys with this suffix are sent (empty: all)."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags on every resource the module makes (the provider's default_tags)."
}
