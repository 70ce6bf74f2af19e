"""AI Estate components: Pulumi ComponentResources that take typed args and read no global config."""
