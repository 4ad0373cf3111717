"""Files and payloads in and out: series CSV, the session file, pushed batches, CSV errors, thinning."""
