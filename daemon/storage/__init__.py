"""Rows and bytes: the database engine and transactions, the models, the spool of raw
letters and attachments.
"""
