"""One letter through the ordered steps in one transaction: the context, the order of
the steps, the runner, the steps.
"""
