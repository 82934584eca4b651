"""The service: settings, database, web pages and REST API, storage and evaluation queue."""
