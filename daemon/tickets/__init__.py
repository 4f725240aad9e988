"""Who wrote and what they are owed: the registry of organisations, identity in a
letter's text, completeness (§5.2), coupons (§3.6).
"""
