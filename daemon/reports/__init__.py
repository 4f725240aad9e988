"""What the head of support and the staff see: the SLA and quality report, digests."""
