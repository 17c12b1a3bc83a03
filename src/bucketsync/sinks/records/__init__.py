"""The records sink: rows inside JSON, JSON Lines and CSV objects become DynamoDB items.

Reading a file (no AWS):
    formats       the entry: ``read_object``, ``read_rows``, ``read_header``, and the names
                  they take and yield (re-exported from the three below)
    options       ``FormatOptions``, and a file's format told from its key (``detect``)
    parsed        ``Row``, ``RowError``, ``Start``: what the readers yield, where a read starts
    json_rows, jsonl_rows, csv_rows   one reader per format, over the private ``_streams``
                  (gzip, text, lines with byte offsets) and ``_jsonguard`` (ijson, bounded)
    values        one row to the item DynamoDB stores, or why it cannot be

Loading it (``docs/records.md``):
    sink          the records sink: routes an update to its rules, loads or removes the file
    loader        ``FileLoader``: claim, read, write, checkpoint, flip, sweep; and the dry run
    target        ``Target`` (where rows go), the reserved names, the item a row becomes
    job           ``Tuning``, ``LoadReport``, one load in progress
    entries       opening a file where a load starts (Range GETs to resume)
    writers       the writer a target needs (``keyed`` for rows under their own key), or none
    rows          the row loop a load and a dry run share
    checkpoints   when a load saves its progress, against its lease and Lambda's deadline
    manifest      the per-file manifest: the lease, the checkpoint, the current generation
    layout        the keys of rows and manifests
    sweep         removing the rows of other generations
    report        ``LoadOutcome`` (what a load came to), the error report a rule publishes
    index, reader listing manifests for reconcile; reading a file's current rows
"""
