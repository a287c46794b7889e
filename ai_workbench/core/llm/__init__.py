"""Model access: provider profiles, the direct and litellm engines, costs, local discovery."""
