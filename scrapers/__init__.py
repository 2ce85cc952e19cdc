"""Scrapy project for the web sources, plus the helpdesk export loader (plain Python).

Flows run spiders as subprocesses through `scrapers.run`; nothing here imports prefect.
"""
