"""Scrapy settings for the VoC Monitor spiders (``SCRAPY_SETTINGS_MODULE=scrapers.settings``)."""

BOT_NAME = "voc_monitor"
SPIDER_MODULES = ["scrapers.spiders"]
NEWSPIDER_MODULE = "scrapers.spiders"

USER_AGENT = (
    "VoCMonitor/0.1 (customer-feedback monitor; reads public reviews and posts "
    "about its own brand; +https://github.com/voc-monitor)"
)
ROBOTSTXT_OBEY = True

# Polite by default, adaptive to the site: start at 1 s between requests and let
# AutoThrottle move it with the observed latency.
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Retries wait 1 s, 2 s, 4 s... (or the server's Retry-After), at most 30 s.
RETRY_BACKOFF_BASE = 1.0
RETRY_BACKOFF_MAX = 30.0
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "scrapers.middlewares.BackoffRetryMiddleware": 550,
}

FEED_EXPORT_ENCODING = "utf-8"
# Neither the telnet console nor Scrapy 2.19's remote-control HTTP server (both execute
# code on request) belongs in an unattended crawl.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"

ITEM_PIPELINES = {
    "scrapers.pipelines.DocumentPipeline": 300,
}
EXTENSIONS = {
    # After CoreStats (0), so finish_reason and elapsed time are in the file.
    "scrapers.stats.StatsFileExtension": 900,
}
#: Where StatsFileExtension writes the stats JSON; unset = not written.
VOC_STATS_FILE = None
