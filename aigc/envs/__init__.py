"""Gymnasium environments the platform ships, registered as ``aigc/<Name>-v<N>`` on import."""
