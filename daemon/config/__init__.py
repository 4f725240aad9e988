"""The configuration: every key declared once (schema), loaded and validated (loader),
the SLA tables built from it (sla_config).
"""
