//! Message delivery receipts (XEP-0184), carried inside the encrypted session: the request
//! and the receipt are children of the message, so XEP-0200 §5 encrypts them.
use esession::xml::Element;

/// The receipts namespace (XEP-0184 §4).
pub const NS_RECEIPTS: &str = "urn:xmpp:receipts";

/// `<request/>`: asks for a receipt (XEP-0184 §4; the message carries an `id`).
pub fn request() -> Element {
    Element::new("request", NS_RECEIPTS)
}

/// `<received id=…/>`: acknowledges the message `id` (XEP-0184 §4).
pub fn received(id: &str) -> Element {
    Element::new("received", NS_RECEIPTS).with_attr("id", id)
}

/// The id to acknowledge, if `message` requests a receipt (XEP-0184 §4: a request needs an
/// id to be answered).
pub fn requested(message: &Element) -> Option<&str> {
    message.child("request", NS_RECEIPTS)?;
    message.attr("id").filter(|id| !id.is_empty())
}

/// The id `message` acknowledges, if it is a receipt (XEP-0184 §4).
pub fn acknowledged(message: &Element) -> Option<&str> {
    message
        .child("received", NS_RECEIPTS)?
        .attr("id")
        .filter(|id| !id.is_empty())
}
