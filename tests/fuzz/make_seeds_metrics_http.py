#!/usr/bin/env python3
"""Writes the seed corpus of the metrics endpoint's fuzz target
(tests/fuzz/fuzz_metrics_http.c): requests as Prometheus and curl send
them, and the bad ones the server must refuse.  The first byte of each
input sets the size of the pieces it is fed in.

  tests/fuzz/make_seeds_metrics_http.py   # (re)writes tests/fuzz/corpus/metrics_http/seed-*
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = {
    "seed-get": b"\x07GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n"
                b"User-Agent: Prometheus/2.45.0\r\nAccept: application/openmetrics-text;"
                b"version=1.0.0,text/plain;version=0.0.4;q=0.5\r\nAccept-Encoding: gzip\r\n"
                b"X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
    "seed-head-query": b"\x00HEAD /metrics?x=1 HTTP/1.0\r\n\r\n",
    "seed-curl": b"\x20GET /metrics HTTP/1.1\r\nHost: localhost:9100\r\n"
                 b"User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    "seed-post": b"\x03POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    "seed-404": b"\x05GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n",
    "seed-bare-lf": b"\x01GET /metrics HTTP/1.1\nHost: x\n\n",
    "seed-folded": b"\x02GET /metrics HTTP/1.1\r\nHost: x\r\n  folded\r\n\r\n",
    "seed-http2": b"\x3fPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "seed-no-host": b"\x09GET /metrics HTTP/1.1\r\n\r\n",
    "seed-many-headers": b"\x10GET /metrics HTTP/1.1\r\nHost: x\r\n"
                         + b"".join(b"X-%d: y\r\n" % i for i in range(70)) + b"\r\n",
    "seed-leading-crlf": b"\x04\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    "seed-nvme-pdu": bytes([0x08, 0x00, 0x00, 0x80, 0x00, 0x80, 0, 0, 0]) + bytes(119),
}

if __name__ == "__main__":
    out = os.path.join(HERE, "corpus", "metrics_http")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
