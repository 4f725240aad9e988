"""Reading a letter: parsing, header decoding, attachments and archives, robots and
bounces, reply text, TIDs. Pure: values in, values out, no I/O.
"""
