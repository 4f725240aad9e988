"""Who to believe a letter is from: Authentication-Results our own MTA wrote, or our own
DKIM, SPF and DMARC checks; alignment by the Public Suffix List; one verdict a letter.
"""
