"""Documents for people: the policy rendered for lawyers, with the coverage of the published text.

model (the document's blocks) <- notes (the encoder's comments), coverage (the published text
against the policy), sentences (statements in plain words) <- document (builds the model)
-> writers (Markdown; HTML through the Jinja2 templates in templates/).
"""
