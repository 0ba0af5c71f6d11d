"""The outputs layer: the files a run leaves for the carrier, and the analyst's report.

It takes finished tables (scores, the flagged list, rejects) and writes them; it computes no
feature and scores nothing.
"""
