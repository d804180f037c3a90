"""The whole bench journey through the services, end to end, on a real database."""

from pharmacy.services import bags, setup
from tests import factories


def test_a_released_bag_is_labelled_stored_and_the_audit_chain_verifies(pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    printed = bags.print_labels(pharmacy, "tech", [bag.serial])
    assert printed.pdf.startswith(b"%PDF") and printed.prints == [(bag.serial, 1)]
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    row = bags.list_bags(pharmacy)[0]
    assert row["state"] == "stored" and row["vial_serial"] == pharmacy.vial_serials[0]
    # the list's plain rows and the API's row of the bag (issue 18) say the same, and what the bag's objects say
    assert row == bags.bag_status(pharmacy, bag.serial)
    read = bags.get_bag(pharmacy, bag.serial)
    assert (row["serial"], row["batch"], row["use_by"], row["patient_id"], row["vial_lot"], row["diluent_lot"]) == (
        read.serial, read.batch, read.use_by.isoformat(), read.preparation.order.patient.identifier,
        read.preparation.vial.lot, read.preparation.diluent_lot.lot)
    result = setup.verify_audit(pharmacy)
    assert result.ok and result.checked > 20
