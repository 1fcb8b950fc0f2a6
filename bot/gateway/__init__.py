"""The gateway: the channel-neutral path every inbound message takes."""
