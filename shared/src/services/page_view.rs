//! What every page a reader opens shows the same way: the alternatives
//! with their offers, and where to get help, in the reader's language.

use serde::Serialize;

use crate::domain::{Campaign, Locale};
use crate::render::format;

#[derive(Serialize)]
pub(crate) struct Alternative {
    name: String,
    url: String,
    offer: Option<String>,
    code: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct Help {
    email: String,
    phone: Option<String>,
    /// The number as a `tel:` link dials it.
    phone_uri: Option<String>,
    hours: Option<String>,
}

pub(crate) fn alternatives(campaign: &Campaign, locale: Locale) -> Vec<Alternative> {
    campaign
        .alternatives
        .iter()
        .map(|a| Alternative {
            name: a.name.clone(),
            url: a.url.to_string(),
            offer: a
                .offer
                .as_ref()
                .map(|t| t.get(locale, campaign.default_locale).to_owned()),
            code: a.discount_code.clone(),
        })
        .collect()
}

pub(crate) fn help(campaign: &Campaign, locale: Locale) -> Help {
    let help = campaign.support.for_locale(locale, campaign.default_locale);
    Help {
        email: help.email.to_string(),
        phone: help.phone.map(ToString::to_string),
        phone_uri: help.phone.map(|p| format::tel_uri(p.as_str())),
        hours: help.hours.map(str::to_owned),
    }
}
