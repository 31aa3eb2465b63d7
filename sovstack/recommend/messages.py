"""The sentences the decision engine explains itself with, in English and French.

The engine records `Reason(key, values)`; the report and `--json` render them in the chosen language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    # why a candidate was left out
    "addon": {
        "en": "an add-on, not a {need} tool on its own",
        "fr": "un complément, pas un outil de {need} à lui seul",
    },
    "hosted_only": {
        "en": "cannot reasonably be self-hosted: {note}",
        "fr": "ne peut pas raisonnablement être auto-hébergé : {note}",
    },
    "end_of_life": {
        "en": "no longer maintained ({status}): {note}",
        "fr": "n'est plus maintenu ({status}) : {note}",
    },
    "no_techie": {
        "en": "nobody to run a server (you answered that no one can)",
        "fr": "personne pour gérer un serveur (vous avez répondu que personne ne le peut)",
    },
    "too_hard": {
        "en": "needs a confident server admin (difficulty {difficulty}/5: {why})",
        "fr": "demande un administrateur aguerri (difficulté {difficulty}/5 : {why})",
    },
    "user_cap": {
        "en": "the free edition stops at {cap} users and you have {members}",
        "fr": "l'édition gratuite s'arrête à {cap} utilisateurs et vous êtes {members}",
    },
    "max_accounts": {
        "en": "takes at most {cap} accounts and you have {members}",
        "fr": "accepte au plus {cap} comptes et vous êtes {members}",
    },
    "francophone_only": {
        "en": "only for francophone associations",
        "fr": "réservé aux associations francophones",
    },
    "no_e2ee": {
        "en": "no end-to-end encryption, which you require",
        "fr": "pas de chiffrement de bout en bout, que vous exigez",
    },
    "no_free_sso": {
        "en": "no single sign-on in the free edition ({detail}), which you require",
        "fr": "pas d'authentification unique dans l'édition gratuite ({detail}), que vous exigez",
    },
    "no_shared_account": {
        "en": "its accounts are not shared with your other tools, and you want one account for all",
        "fr": "ses comptes ne sont pas partagés avec vos autres outils, et vous voulez un compte unique",
    },
    "no_office": {
        "en": "does not edit .docx/.xlsx files, which your members need",
        "fr": "ne modifie pas les fichiers .docx/.xlsx, dont vos membres ont besoin",
    },
    "ram_server": {
        "en": "needs about {need_mb} MB of RAM with the server's own, and your server has {have_mb} MB",
        "fr": "demande environ {need_mb} Mo de RAM avec le système, et votre serveur en a {have_mb} Mo",
    },
    "over_budget_server": {
        "en": "the smallest server for it costs about €{price}/month, over your budget of €{budget}",
        "fr": "le plus petit serveur adapté coûte environ {price} €/mois, au-delà de votre budget de {budget} €",
    },
    "over_budget_hosted": {
        "en": "costs about €{price}/month, over your budget of €{budget}",
        "fr": "coûte environ {price} €/mois, au-delà de votre budget de {budget} €",
    },
    "no_own_domain": {
        "en": "addresses are on the hoster's domain, not your association's own",
        "fr": "les adresses sont au nom de l'hébergeur, pas de votre association",
    },
    "own_domain_unknown": {
        "en": "ask whether they host mail on your own domain",
        "fr": "demandez s'ils hébergent le courriel à votre nom de domaine",
    },
    "other_account_domain": {
        "en": "members would need a separate account: your other tools share one account {where}",
        "fr": "les membres auraient besoin d'un compte à part : vos autres outils partagent un compte {where}",
    },
    "own_account_only": {
        "en": "no option here can join the single account {where}: members get a separate account for this one",
        "fr": "aucune option ici ne rejoint le compte unique {where} : les membres auront un compte à part pour celle-ci",
    },
    "account_self": {"en": "on your server", "fr": "sur votre serveur"},
    "account_hoster": {"en": "at {hoster}", "fr": "chez {hoster}"},
    "familiar": {
        "en": "looks like the {suite} tools your members use today (+{bonus})",
        "fr": "ressemble aux outils {suite} que vos membres utilisent aujourd'hui (+{bonus})",
    },
    "stack_fit": {
        "en": "did not fit with your other picks ({what}); {chosen} was taken instead",
        "fr": "ne tenait pas avec vos autres choix ({what}) ; {chosen} a été retenu à la place",
    },
    "fit_ram": {"en": "{need_mb} MB of RAM for {have_mb} MB available", "fr": "{need_mb} Mo de RAM pour {have_mb} Mo disponibles"},
    "fit_budget": {"en": "€{cost}/month for a budget of €{budget}", "fr": "{cost} €/mois pour un budget de {budget} €"},
    # why the pick
    "pick_best": {
        "en": "best overall score for your answers: {total} ({detail})",
        "fr": "meilleur score global pour vos réponses : {total} ({detail})",
    },
    "pick_over": {
        "en": "ahead of {runner_up} ({runner_total}): {why}",
        "fr": "devant {runner_up} ({runner_total}) : {why}",
    },
    "pick_alone": {
        "en": "the only option that meets all your constraints",
        "fr": "la seule option qui respecte toutes vos contraintes",
    },
    "preference": {
        "en": "matches your preference to keep data {where} (+{bonus})",
        "fr": "correspond à votre préférence de garder les données {where} (+{bonus})",
    },
    "where_own": {"en": "on your own server", "fr": "sur votre propre serveur"},
    "where_hoster": {"en": "with a trusted hoster", "fr": "chez un hébergeur de confiance"},
    "priority": {
        "en": "{criterion} counts double, as you asked",
        "fr": "le critère {criterion} compte double, comme demandé",
    },
    "e2ee_partial": {
        "en": "end-to-end encryption only in part: {note}",
        "fr": "chiffrement de bout en bout seulement en partie : {note}",
    },
    "office_convert": {
        "en": ".docx/.xlsx files are converted on import and export, not edited in place (-{penalty})",
        "fr": "les fichiers .docx/.xlsx sont convertis à l'import et à l'export, pas modifiés tels quels (-{penalty})",
    },
    "together_tool": {
        "en": "runs with {tool}, already chosen for {need} (+{bonus})",
        "fr": "fonctionne avec {tool}, déjà retenu pour {need} (+{bonus})",
    },
    "together_hoster": {
        "en": "same hoster as your {need}: one subscription, one place to ask (+{bonus})",
        "fr": "même hébergeur que pour {need} : un seul abonnement, un seul interlocuteur (+{bonus})",
    },
    "hosted_free": {"en": "free of charge", "fr": "gratuit"},
    "hosted_price": {"en": "about €{price}/month", "fr": "environ {price} €/mois"},
    "hosted_unpriced": {"en": "price on request: {note}", "fr": "prix sur demande : {note}"},
    "not_libre": {
        "en": "not wholly free software: the provider's servers are proprietary",
        "fr": "pas entièrement libre : les serveurs du fournisseur sont propriétaires",
    },
    "non_commercial": {
        "en": "for non-commercial use only: {note}",
        "fr": "pour un usage non commercial seulement : {note}",
    },
    "limit_note": {"en": "limit: {note}", "fr": "limite : {note}"},
    "needs_tools": {
        "en": "runs together with {tools}",
        "fr": "fonctionne avec {tools}",
    },
    "companion": {
        "en": "{tool} is added as webmail, since {server} has none",
        "fr": "{tool} est ajouté comme webmail, car {server} n'en a pas",
    },
    # keep
    "keep_covered": {
        "en": "you already use free software or a trusted hoster for this: keep it",
        "fr": "vous utilisez déjà un logiciel libre ou un hébergeur de confiance pour cela : gardez-le",
    },
    "keep_nothing_fits": {
        "en": "no free-software option meets all your constraints (see what was excluded and why); keep what you have for now",
        "fr": "aucune option libre ne respecte toutes vos contraintes (voir les exclusions) ; gardez l'existant pour l'instant",
    },
    "keep_fit": {
        "en": "the options that fit individually did not fit together with your other needs ({what}); keep what you have for now",
        "fr": "les options possibles ne tenaient pas avec vos autres besoins ({what}) ; gardez l'existant pour l'instant",
    },
    # identity
    "identity_why_sso": {
        "en": "you want one account for every tool",
        "fr": "vous voulez un compte unique pour tous les outils",
    },
    "identity_why_many": {
        "en": "{count} self-hosted tools can share one member account",
        "fr": "{count} outils auto-hébergés peuvent partager un même compte membre",
    },
    "identity_covers": {
        "en": "connects {tools} ({protocols})",
        "fr": "connecte {tools} ({protocols})",
    },
    "identity_misses": {
        "en": "covers fewer of your tools: {tools} would stay unconnected",
        "fr": "couvre moins de vos outils : {tools} resteraient non connectés",
    },
    "identity_heavy": {
        "en": "did not fit on the server with your other tools; a lighter directory was taken",
        "fr": "ne tenait pas sur le serveur avec vos autres outils ; un annuaire plus léger a été retenu",
    },
    "unconnected": {
        "en": "{tool} cannot use {identity}: {why}",
        "fr": "{tool} ne peut pas utiliser {identity} : {why}",
    },
    "unconnected_no_sso": {"en": "no free LDAP, OIDC or SAML", "fr": "pas de LDAP, OIDC ni SAML gratuit"},
    "unconnected_protocols": {
        "en": "it speaks {theirs}, the directory offers {ours}",
        "fr": "il parle {theirs}, l'annuaire offre {ours}",
    },
    "paid": {"en": "{protocols} paid only", "fr": "{protocols} payant seulement"},
    "none_at_all": {"en": "none at all", "fr": "aucune"},
    "and": {"en": " and ", "fr": " et "},
}


@dataclass(frozen=True)
class Reason:
    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str = "en") -> str:
        values = {k: (v.render(lang) if isinstance(v, Reason) else v) for k, v in self.values.items()}
        return MESSAGES[self.key][lang].format(**values)


def say(key: str, **values: Any) -> Reason:
    if key not in MESSAGES:  # a programming error, caught by the tests
        raise KeyError(key)
    return Reason(key, values)


def join(items: list[str], lang: str = "en") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + MESSAGES["and"][lang] + items[-1]
