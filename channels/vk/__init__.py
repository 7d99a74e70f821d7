"""VK community bot through vkbottle 4: Bots Long Poll in, `messages.send` out."""

from channels.vk.channel import TEXT_LIMIT, VkChannel, VkUnavailable, poller_name, random_id

__all__ = ["TEXT_LIMIT", "VkChannel", "VkUnavailable", "poller_name", "random_id"]
