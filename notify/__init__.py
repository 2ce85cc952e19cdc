"""Alert delivery: messages rendered per channel, channels, routing, quiet hours, retries.

A plain library like nlp/: no prefect, duckdb or streamlit. The flow builds `AlertMessage`
records from stored alerts, calls `notify.deliver.deliver` and stores the outcome with
`warehouse.deliveries.save_deliveries`.
"""
