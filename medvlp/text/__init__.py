"""Report text: sections, sentences, mention matching, labels, augmentation, prompts, PHI scrubbing."""
