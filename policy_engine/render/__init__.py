"""Documents for people: the policy rendered for lawyers, with the coverage of the published text."""
