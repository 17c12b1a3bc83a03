"""The records sink: rows inside JSON, JSON Lines and CSV objects become DynamoDB items.

``formats`` streams rows out of an S3 body; ``values`` turns one row into an item DynamoDB can
store, or says why it cannot.
"""
