"""Run artifacts: the durable upload queue, its staging and delivery, browsing and previews."""
