"""The target's own metrics: read while a game day runs, kept in the run directory.

    selector   `name{label="value",...}`: which scraped samples a metric SLI means
    scrape     GET Prometheus text, parsed by prometheus_client's parser; a Scraper thread
               per `kind: scrape` source writes metrics/<source>.jsonl every interval
    promql     range queries to a Prometheus server (`kind: prometheus`), fetched at run end
               into metrics/<source>.jsonl
    store      the metrics/ files: writing, reading, and the time series of one expression

The analysis reads only the files, so `gameday report` stays a pure function of the run
directory whichever kind of source the numbers came from.
"""
