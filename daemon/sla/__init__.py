"""Service levels and the working calendar: levels, Moscow working hours on the
production calendar, deadlines and warnings. Pure.
"""
