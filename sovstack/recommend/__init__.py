"""From answers to a recommendation: questionnaire, decision, report, and the web questionnaire."""
