"""Spiders: configuration plus one small hook each, on `scrapers.spiders.base.VocSpider`."""
