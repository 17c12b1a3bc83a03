"""Deploying bucketsync to AWS: the template, the bucket's notification, the function's zip."""
